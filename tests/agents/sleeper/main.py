import subprocess
import time

# A child too, so that the whole tree must be killed at the deadline.
subprocess.Popen(["sleep", "60"])
time.sleep(60)

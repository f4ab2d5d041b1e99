import json
import os

# The working folder is writable; changes never reach the stored bundle.
with open("notes.txt", "w") as f:
    f.write("written in the jail\n")
with open("main.py") as f:
    own_source = len(f.read())
with open("main.py", "a") as f:
    f.write("# changed by the run\n")
print(json.dumps({"cwd": os.getcwd(), "files": sorted(os.listdir(".")), "own_source_bytes": own_source}))

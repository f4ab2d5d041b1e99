import json
import sys

sys.stderr.write('@@ORCHAGENT_WARNING:{"code":"LOW_CONFIDENCE","field":"total","message":"total is a guess"}\n')
sys.stderr.write("an ordinary log line\n")
sys.stderr.write('@@ORCHAGENT_WARNING:{"code":"TRUNCATED","message":"only the first page was read"}\n')
print(json.dumps({"total": 42}))

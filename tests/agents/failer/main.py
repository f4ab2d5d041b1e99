import json
import sys

print(json.dumps({"error": {"code": "UNPROCESSABLE", "message": "this is not an invoice"}}))
sys.exit(1)

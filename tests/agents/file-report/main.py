"""Reports every uploaded file's size and sha256, and echoes the metadata it received."""
import hashlib
import json
import sys

manifest = json.load(sys.stdin)
files = []
for entry in manifest.get("files", []):
    with open(entry["path"], "rb") as f:
        content = f.read()
    files.append({
        "original_name": entry["original_name"],
        "path": entry["path"],
        "declared_size": entry["size_bytes"],
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    })
print(json.dumps({"files": files, "metadata": manifest.get("metadata", {})}))

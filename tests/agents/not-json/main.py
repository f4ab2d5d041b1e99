print("Hello! This is not JSON.")

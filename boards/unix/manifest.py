# Freeze microticket into the unix port:
#   make -C ports/unix FROZEN_MANIFEST=<repo>/boards/unix/manifest.py
# The port's own manifest first, then the parts this board's profile.json lists (boards/parts.json says
# what each part holds; require() pulls in the parts it needs, each module frozen once).
import json

include("$(PORT_DIR)/variants/manifest.py")
add_library("microticket", "../lib")
with open("profile.json") as f:
    for part in json.load(f)["parts"]:
        require("microticket-" + part, library="microticket")

# Freeze microticket into the RP2 (Pico) firmware:
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=<repo>/boards/rp2/manifest.py
# The port's own manifest first, then the parts this board's profile.json lists (boards/parts.json says
# what each part holds; require() pulls in the parts it needs, each module frozen once).
import json

include("$(PORT_DIR)/boards/manifest.py")
add_library("microticket", "../lib")
with open("profile.json") as f:
    for part in json.load(f)["parts"]:
        require("microticket-" + part, library="microticket")

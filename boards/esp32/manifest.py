# Freeze microticket into the ESP32 firmware:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=<repo>/boards/esp32/manifest.py
# The port's own manifest first, then the parts this board's profile.json lists (boards/parts.json says
# what each part holds; require() pulls in the parts it needs, each module frozen once).
import json

include("$(PORT_DIR)/boards/manifest.py")
add_library("microticket", "../lib")
with open("profile.json") as f:
    for part in json.load(f)["parts"]:
        require("microticket-" + part, library="microticket")

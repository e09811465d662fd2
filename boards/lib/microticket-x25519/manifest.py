# microticket part "x25519", for require("microticket-x25519", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "x25519"
with open("../part.py") as _f:
    exec(_f.read())

# microticket part "proto", for require("microticket-proto", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "proto"
with open("../part.py") as _f:
    exec(_f.read())

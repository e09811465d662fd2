# microticket part "ike", for require("microticket-ike", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "ike"
with open("../part.py") as _f:
    exec(_f.read())

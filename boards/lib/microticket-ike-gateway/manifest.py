# microticket part "ike-gateway", for require("microticket-ike-gateway", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "ike-gateway"
with open("../part.py") as _f:
    exec(_f.read())

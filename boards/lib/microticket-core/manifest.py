# microticket part "core", for require("microticket-core", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "core"
with open("../part.py") as _f:
    exec(_f.read())

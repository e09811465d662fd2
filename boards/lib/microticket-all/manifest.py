# microticket part "all", for require("microticket-all", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "all"
with open("../part.py") as _f:
    exec(_f.read())

# microticket part "sha512", for require("microticket-sha512", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "sha512"
with open("../part.py") as _f:
    exec(_f.read())

# microticket part "aead", for require("microticket-aead", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "aead"
with open("../part.py") as _f:
    exec(_f.read())

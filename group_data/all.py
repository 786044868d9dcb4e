# Values shared by every environment. Each deploy's DEFAULTS (tasks/*.py) document every key;
# set here only what differs from them. Environment files (group_data/<env>.py) override these.

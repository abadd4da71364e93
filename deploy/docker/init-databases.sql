CREATE DATABASE warden_routing OWNER warden;
CREATE DATABASE warden_decision OWNER warden;
CREATE DATABASE warden_notify OWNER warden;

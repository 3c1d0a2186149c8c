# tools/cmd_dump.c (engineer C2): `farjit dump` disassembles blobs with capstone.
$(B)/bin/farjit: FJ_CLIENT_LDLIBS += -lcapstone

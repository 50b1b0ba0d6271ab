# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: "get + set under the lock: 2"
  1  MainProcess: "mpk_value_add: 2"
  1  MainProcess: acquire lock#1
  1  MainProcess: acquire lock#2
  1  MainProcess: acquire lock#3
  1  MainProcess: exit 0
  1  MainProcess: join adder 1
  1  MainProcess: join adder 1 (2)
  1  MainProcess: join adder 1 (3)
  1  MainProcess: join adder 2
  1  MainProcess: join adder 2 (2)
  1  MainProcess: join adder 2 (3)
  3  MainProcess: read value##: #
  1  MainProcess: release lock#1
  1  MainProcess: release lock#2
  1  MainProcess: release lock#3
  3  MainProcess: set event#1
  1  MainProcess: start
  1  MainProcess: start adder 1
  1  MainProcess: start adder 1 (2)
  1  MainProcess: start adder 1 (3)
  1  MainProcess: start adder 2
  1  MainProcess: start adder 2 (2)
  1  MainProcess: start adder 2 (3)
  2  adder: "read #, wrote #"
  4  adder: acquire lock#1
  6  adder: acquire lock#2
  2  adder: acquire lock#3
  2  adder: add value##: # → #
  6  adder: exit 0
  6  adder: exit 0 (reaped by MainProcess)
  4  adder: read value##: #
  4  adder: release lock#1
  6  adder: release lock#2
  2  adder: release lock#3
  6  adder: start
  6  adder: wait event#1 (after MainProcess: set event#1)
  4  adder: write value##: # → #
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

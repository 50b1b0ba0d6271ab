# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: exit 0
  1  MainProcess: join child 1
  1  MainProcess: join child 2
  1  MainProcess: join child 3
  1  MainProcess: join child 4
  1  MainProcess: join child 5
  1  MainProcess: join queue#1
  5  MainProcess: receive FINISHED → all int # <- child (queue#1)
  1  MainProcess: start
  1  MainProcess: start child 1
  1  MainProcess: start child 2
  1  MainProcess: start child 3
  1  MainProcess: start child 4
  1  MainProcess: start child 5
  5  child: exit 0
  5  child: exit 0 (reaped by MainProcess)
  5  child: send FINISHED → all int # -> MainProcess (queue#1)
  5  child: start
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

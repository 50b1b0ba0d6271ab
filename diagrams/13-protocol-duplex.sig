# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: exit 0
  1  MainProcess: join child 1
  1  MainProcess: join child 2
  1  MainProcess: join child 3
  1  MainProcess: join queue#1
  1  MainProcess: receive FINISHED → MainProcess int # <- child (queue#1)
  3  MainProcess: send DIE → all -> child (queue#1)
  1  MainProcess: send DO → child 2 -> child (queue#1)
  1  MainProcess: start
  1  MainProcess: start child 1
  1  MainProcess: start child 2
  1  MainProcess: start child 3
  3  child: exit 0
  3  child: exit 0 (reaped by MainProcess)
  3  child: receive DIE → all <- MainProcess (queue#1)
  1  child: receive DO → child 2 <- MainProcess (queue#1)
  1  child: send FINISHED → MainProcess int # -> MainProcess (queue#1)
  3  child: start
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

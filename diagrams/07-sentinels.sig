# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  4  Consumer: exit 0
  4  Consumer: exit 0 (reaped by MainProcess)
  4  Consumer: get None <- MainProcess (queue#1)
  2  Consumer: get int 1 <- MainProcess (queue#1)
  2  Consumer: get int 2 <- MainProcess (queue#1)
  2  Consumer: get int 3 <- MainProcess (queue#1)
  2  Consumer: get int 4 <- MainProcess (queue#1)
  4  Consumer: start
  1  MainProcess: exit 0
  1  MainProcess: join Consumer
  1  MainProcess: join Consumer 1
  1  MainProcess: join Consumer 2
  1  MainProcess: join Consumer 3
  4  MainProcess: put None -> Consumer (queue#1)
  2  MainProcess: put int 1 -> Consumer (queue#1)
  2  MainProcess: put int 2 -> Consumer (queue#1)
  2  MainProcess: put int 3 -> Consumer (queue#1)
  2  MainProcess: put int 4 -> Consumer (queue#1)
  1  MainProcess: start
  1  MainProcess: start Consumer
  1  MainProcess: start Consumer 1
  1  MainProcess: start Consumer 2
  1  MainProcess: start Consumer 3
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: SIGKILL worker 1
  1  MainProcess: exit 0
  6  MainProcess: get tuple (#, #) <- worker (queue#2)
  1  MainProcess: join worker 1
  1  MainProcess: join worker 2
  1  MainProcess: join worker 3
  2  MainProcess: put None -> worker (queue#1)
  1  MainProcess: put int 1 -> worker (queue#1)
  1  MainProcess: put int 2 -> worker (queue#1)
  1  MainProcess: put int 3 -> worker (queue#1)
  1  MainProcess: put int 4 -> worker (queue#1)
  1  MainProcess: put int 5 -> worker (queue#1)
  1  MainProcess: put int 6 -> worker (queue#1)
  1  MainProcess: start
  1  MainProcess: start worker 1
  1  MainProcess: start worker 2
  1  MainProcess: start worker 3
  1  MainProcess: wait event#1 (after worker: set event#1)
  2  worker: exit 0
  2  worker: exit 0 (reaped by MainProcess)
  2  worker: get None <- MainProcess (queue#1)
  1  worker: get int 1 <- MainProcess (queue#1)
  1  worker: get int 2 <- MainProcess (queue#1)
  1  worker: get int 3 <- MainProcess (queue#1)
  1  worker: get int 4 <- MainProcess (queue#1)
  1  worker: get int 5 <- MainProcess (queue#1)
  1  worker: get int 6 <- MainProcess (queue#1)
  1  worker: killed by SIGKILL (reaped by MainProcess) (after MainProcess: SIGKILL worker 1)
  6  worker: put tuple (#, #) -> MainProcess (queue#2)
  1  worker: recovered queue#1 (after MainProcess: SIGKILL worker 1)
  1  worker: set event#1
  3  worker: start
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: SIGTERM consumer 1
  1  MainProcess: SIGTERM consumer 2
  1  MainProcess: exit 0
  1  MainProcess: join consumer 1
  1  MainProcess: join consumer 2
  1  MainProcess: join queue#1 (after consumer: task_done queue#1)
  1  MainProcess: put int 1 -> consumer (queue#1)
  1  MainProcess: put int 2 -> consumer (queue#1)
  1  MainProcess: put int 3 -> consumer (queue#1)
  1  MainProcess: put int 4 -> consumer (queue#1)
  1  MainProcess: start
  1  MainProcess: start consumer 1
  1  MainProcess: start consumer 2
  1  consumer: get int 1 <- MainProcess (queue#1)
  1  consumer: get int 2 <- MainProcess (queue#1)
  1  consumer: get int 3 <- MainProcess (queue#1)
  1  consumer: get int 4 <- MainProcess (queue#1)
  1  consumer: killed by SIGTERM (reaped by MainProcess) (after MainProcess: SIGTERM consumer 1)
  1  consumer: killed by SIGTERM (reaped by MainProcess) (after MainProcess: SIGTERM consumer 2)
  2  consumer: start
  1  consumer: task_done queue#1
  3  consumer: task_done queue#1 (after consumer: task_done queue#1)
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

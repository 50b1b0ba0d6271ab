# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  2  ForkPoolWorker: exit 0
  2  ForkPoolWorker: exit 0 (reaped by MainProcess)
  1  ForkPoolWorker: get tuple (bytes[0], [], 'v', False, 0, 0, False) <- MainProcess (queue#3)
  1  ForkPoolWorker: get tuple (bytes[0], [], 'v', False, 0, 0, False) <- MainProcess (queue#4)
  1  ForkPoolWorker: get tuple (bytes[24], [8, 16, 24], 'x', False, 11, … <- MainProcess (queue#4)
  1  ForkPoolWorker: get tuple (bytes[24], [8, 16, 24], 'x', False, 2, 0… <- MainProcess (queue#1)
  1  ForkPoolWorker: get tuple (bytes[24], [8, 16, 24], 'x', False, 3, 0… <- MainProcess (queue#3)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 1, 0, False) <- MainProcess (queue#1)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 10, 0, False) <- MainProcess (queue#4)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 4, 0, False) <- MainProcess (queue#1)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 5, 0, False) <- MainProcess (queue#3)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 6, 0, False) <- MainProcess (queue#1)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 7, 0, False) <- MainProcess (queue#3)
  1  ForkPoolWorker: get tuple (bytes[8], [8], 'x', False, 9, 0, False) <- MainProcess (queue#3)
  1  ForkPoolWorker: killed by SIGKILL (reaped by MainProcess)
  2  ForkPoolWorker: put tuple (bytes[#], [#, #, #], 'x', False, #, [… -> MainProcess (queue#2)
  1  ForkPoolWorker: put tuple (bytes[#], [#, #, #], 'x', False, #, … -> MainProcess (queue#2)
  6  ForkPoolWorker: put tuple (bytes[#], [#], 'x', False, #, []) -> MainProcess (queue#2)
  3  ForkPoolWorker: start
  1  MainProcess: exit 0
  2  MainProcess: get tuple (bytes[#], [#, #, #], 'x', False, #, [… <- ForkPoolWorker (queue#2)
  1  MainProcess: get tuple (bytes[#], [#, #, #], 'x', False, #, … <- ForkPoolWorker (queue#2)
  6  MainProcess: get tuple (bytes[#], [#], 'x', False, #, []) <- ForkPoolWorker (queue#2)
  1  MainProcess: join ForkPoolWorker-2
  1  MainProcess: join ForkPoolWorker-3
  1  MainProcess: put tuple (bytes[0], [], 'v', False, 0, 0, False) -> ForkPoolWorker (queue#3)
  1  MainProcess: put tuple (bytes[0], [], 'v', False, 0, 0, False) -> ForkPoolWorker (queue#4)
  1  MainProcess: put tuple (bytes[24], [8, 16, 24], 'x', False, 11, … -> ForkPoolWorker (queue#4)
  1  MainProcess: put tuple (bytes[24], [8, 16, 24], 'x', False, 2, 0… -> ForkPoolWorker (queue#1)
  1  MainProcess: put tuple (bytes[24], [8, 16, 24], 'x', False, 3, 0… -> ForkPoolWorker (queue#3)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 1, 0, False) -> ForkPoolWorker (queue#1)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 10, 0, False) -> ForkPoolWorker (queue#4)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 4, 0, False) -> ForkPoolWorker (queue#1)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 5, 0, False) -> ForkPoolWorker (queue#3)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 6, 0, False) -> ForkPoolWorker (queue#1)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 7, 0, False) -> ForkPoolWorker (queue#3)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 8, 0, False) not received (queue#1)
  1  MainProcess: put tuple (bytes[8], [8], 'x', False, 9, 0, False) -> ForkPoolWorker (queue#3)
  1  MainProcess: start
  1  MainProcess: start ForkPoolWorker-1
  1  MainProcess: start ForkPoolWorker-2
  1  MainProcess: start ForkPoolWorker-3
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

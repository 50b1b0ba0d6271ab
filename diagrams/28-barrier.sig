# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: exit 0
  1  MainProcess: join worker 1
  1  MainProcess: join worker 2
  1  MainProcess: join worker 3
  1  MainProcess: start
  1  MainProcess: start worker 1
  1  MainProcess: start worker 2
  1  MainProcess: start worker 3
  5  worker: acquire lock#1
  3  worker: exit 0
  3  worker: exit 0 (reaped by MainProcess)
  1  worker: notify event#2
  6  worker: pass event#1 (after worker: release event#1)
 11  worker: read value##: #
  3  worker: release event#1
  5  worker: release lock#1
  3  worker: start
  2  worker: wait event#2 (after worker: notify event#2)
  3  worker: write value##: # → #
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

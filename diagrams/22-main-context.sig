# mpk-trace signature 1: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)
  1  MainProcess: "SIGINT to myself"
  1  MainProcess: exit 0
  1  MainProcess: join worker 1
  1  MainProcess: join worker 2
  1  MainProcess: recv bye <- worker (pipe#1)
  1  MainProcess: recv bye <- worker (pipe#2)
  2  MainProcess: recv → ready (value=#) <- worker (pipe#1)
  2  MainProcess: recv → ready (value=#) <- worker (pipe#2)
  1  MainProcess: send job (n=1) -> worker (pipe#1)
  1  MainProcess: send job (n=2) -> worker (pipe#2)
  1  MainProcess: send job (n=3) -> worker (pipe#1)
  1  MainProcess: send job (n=4) -> worker (pipe#2)
  1  MainProcess: send stop -> worker (pipe#1)
  1  MainProcess: send stop -> worker (pipe#2)
  1  MainProcess: start
  1  MainProcess: start worker 1
  1  MainProcess: start worker 2
  2  worker: exit 0
  2  worker: exit 0 (reaped by MainProcess)
  1  worker: recv job (n=1) <- MainProcess (pipe#1)
  1  worker: recv job (n=2) <- MainProcess (pipe#2)
  1  worker: recv job (n=3) <- MainProcess (pipe#1)
  1  worker: recv job (n=4) <- MainProcess (pipe#2)
  1  worker: recv stop <- MainProcess (pipe#1)
  1  worker: recv stop <- MainProcess (pipe#2)
  1  worker: send bye -> MainProcess (pipe#1)
  1  worker: send bye -> MainProcess (pipe#2)
  2  worker: send → ready (value=#) -> MainProcess (pipe#1)
  2  worker: send → ready (value=#) -> MainProcess (pipe#2)
  2  worker: start
# drawing: 2234320065 13680 (cksum of mpk-trace dot tools/mpk-trace/reference), pages of 15/14 rows

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpkit.h: the one header users include. */
#ifndef MPKIT_H
#define MPKIT_H

#define MPK_INSIDE
#include "mpk-version.h"
#include "mpk-error.h"
#include "mpk-connection.h"
#include "mpk-process.h"
#include "mpk-wait.h"
#include "mpk-lock.h"
#include "mpk-queue.h"
#include "mpk-value.h"
#include "mpk-pool.h"
#include "mpk-barrier.h"
#include "mpk-condition.h"
#include "mpk-manager.h"
#include "mpk-authkey.h"
#include "mpk-trace.h"
#include "mpk-message.h"
#include "mpk-protocol.h"
#include "mpk-messenger.h"
#include "mpk-worker.h"
#include "mpk-command.h"
#include "mpk-event-group.h"
#include "mpk-message-process.h"
#include "mpk-program.h"
#undef MPK_INSIDE

#endif /* MPKIT_H */

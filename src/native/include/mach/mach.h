/* MachIpc's libSystem for Linux: the Mach API a C peer uses, behind the same include a Mac program uses. */
#ifndef MACHIPC_MACH_MACH_H
#define MACHIPC_MACH_MACH_H

#include <mach/kern_return.h>
#include <mach/mach_types.h>
#include <mach/port.h>
#include <mach/message.h>
#include <mach/mach_init.h>
#include <mach/mach_port.h>
#include <mach/mach_traps.h>
#include <mach/task.h>
#include <mach/notify.h>
#include <mach/mig_errors.h>

#endif

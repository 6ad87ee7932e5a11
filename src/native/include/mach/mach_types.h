/* MachIpc's libSystem for Linux: the kernel-object types user space names by port (all mach_port_t here). */
#ifndef MACHIPC_MACH_MACH_TYPES_H
#define MACHIPC_MACH_MACH_TYPES_H

#include <mach/port.h>
#include <mach/vm_types.h>
#include <mach/exception_types.h>

typedef mach_port_t task_t;
typedef mach_port_t task_name_t;
typedef mach_port_t task_inspect_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t vm_map_t;
typedef mach_port_t thread_t;

#endif

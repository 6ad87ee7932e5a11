/* MachIpc's libSystem for Linux: task special port selectors. */
#ifndef MACHIPC_MACH_TASK_SPECIAL_PORTS_H
#define MACHIPC_MACH_TASK_SPECIAL_PORTS_H

#define TASK_KERNEL_PORT    1
#define TASK_HOST_PORT      2
#define TASK_NAME_PORT      3
#define TASK_BOOTSTRAP_PORT 4

#endif

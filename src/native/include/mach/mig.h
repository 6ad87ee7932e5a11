/* MachIpc's libSystem for Linux: the user-space support MIG-generated C calls (the thread's reply port). */
#ifndef MACHIPC_MACH_MIG_H
#define MACHIPC_MACH_MIG_H

#include <mach/port.h>

#ifdef __cplusplus
extern "C" {
#endif

mach_port_t mig_get_reply_port(void);
void mig_dealloc_reply_port(mach_port_t reply_port);
void mig_put_reply_port(mach_port_t reply_port);

#ifdef __cplusplus
}
#endif

#endif

/* MachIpc's libSystem for Linux: mach_vm_deallocate, for out-of-line memory a message or a call handed over. */
#ifndef MACHIPC_MACH_MACH_VM_H
#define MACHIPC_MACH_MACH_VM_H

#include <mach/mach_types.h>
#include <mach/kern_return.h>

#ifdef __cplusplus
extern "C" {
#endif

kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t address, mach_vm_size_t size);

#ifdef __cplusplus
}
#endif

#endif

/* MachIpc's libSystem for Linux: the VM scalar types of the LP64 ABI. */
#ifndef MACHIPC_MACH_VM_TYPES_H
#define MACHIPC_MACH_VM_TYPES_H

#include <stdint.h>

typedef unsigned int natural_t;
typedef int integer_t;
typedef uintptr_t vm_offset_t;
typedef uintptr_t vm_size_t;
typedef uintptr_t vm_address_t;
typedef uint64_t mach_vm_address_t;
typedef uint64_t mach_vm_size_t;

#endif

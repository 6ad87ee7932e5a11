/* MachIpc's libSystem for Linux: the types exception messages (exc.defs, mach_exc.defs) carry. */
#ifndef MACHIPC_MACH_EXCEPTION_TYPES_H
#define MACHIPC_MACH_EXCEPTION_TYPES_H

#include <stdint.h>

typedef int exception_type_t;
typedef int32_t exception_data_type_t;
typedef int64_t mach_exception_data_type_t;
typedef exception_data_type_t *exception_data_t;
typedef mach_exception_data_type_t *mach_exception_data_t;
typedef int thread_state_flavor_t;
typedef unsigned int *thread_state_t;

#endif

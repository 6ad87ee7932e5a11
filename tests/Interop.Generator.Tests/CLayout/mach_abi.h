/* The Mach message ABI structs the C layout oracles declare messages with, written from the ABI fact sheet (not
 * copied from XNU headers). <mach/message.h> declares them under #pragma pack(4); so do we. */
#ifndef MACHIPC_MACH_ABI_H
#define MACHIPC_MACH_ABI_H
#include <stdint.h>

#pragma pack(push, 4)
typedef struct { uint32_t bits, size, remote_port, local_port, voucher_port; int32_t id; } mach_msg_header_t;
typedef struct { uint32_t descriptor_count; } mach_msg_body_t;
typedef struct { uint32_t name, pad1; uint16_t pad2; uint8_t disposition, type; } mach_msg_port_descriptor_t;
typedef struct { uint64_t address; uint8_t deallocate, copy, pad1, type; uint32_t size; } mach_msg_ool_descriptor_t;
typedef struct { uint64_t address; uint8_t deallocate, copy, disposition, type; uint32_t count; } mach_msg_ool_ports_descriptor_t;
/* MIG's data-representation label: eight bytes. */
typedef struct { uint8_t mig_vers, if_vers, reserved1, mig_encoding, int_rep, char_rep, float_rep, reserved2; } NDR_record_t;
#pragma pack(pop)

#endif

/* C layout oracle for the generator tests: the Mach ABI structs declared with C fixed-width types, written from the
 * ABI fact sheet (not copied from XNU headers), always under pack(4) as <mach/message.h> does; the corpus and the
 * printing are in layout_corpus.h. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#pragma pack(push, 4)
typedef struct { uint32_t bits, size, remote_port, local_port, voucher_port; int32_t id; } mach_msg_header_t;
typedef struct { uint32_t descriptor_count; } mach_msg_body_t;
typedef struct { uint32_t name, pad1; uint16_t pad2; uint8_t disposition, type; } mach_msg_port_descriptor_t;
typedef struct { uint64_t address; uint8_t deallocate, copy, pad1, type; uint32_t size; } mach_msg_ool_descriptor_t;
typedef struct { uint64_t address; uint8_t deallocate, copy, disposition, type; uint32_t count; } mach_msg_ool_ports_descriptor_t;
typedef struct { uint32_t type, size, seqno; uint32_t sender[2]; uint32_t audit[8]; } mach_msg_audit_trailer_t;
#pragma pack(pop)

#include "layout_corpus.h"

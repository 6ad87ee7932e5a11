/* MachIpc's libSystem for Linux: the NDR record MIG messages carry after the header. */
#ifndef MACHIPC_MACH_NDR_H
#define MACHIPC_MACH_NDR_H

typedef struct {
    unsigned char mig_vers, if_vers, reserved1, mig_encoding, int_rep, char_rep, float_rep, reserved2;
} NDR_record_t;

#define NDR_PROTOCOL_2_0      0
#define NDR_INT_BIG_ENDIAN    0
#define NDR_INT_LITTLE_ENDIAN 1
#define NDR_CHAR_ASCII        0
#define NDR_FLOAT_IEEE        0

#ifdef __cplusplus
extern "C" {
#endif

/* The record this machine's MIG code sends: little-endian integers, ASCII, IEEE floats. */
extern NDR_record_t NDR_record;

#ifdef __cplusplus
}
#endif

#endif

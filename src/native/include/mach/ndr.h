/* MachIpc's libSystem for Linux: the NDR record MIG messages carry after the header. */
#ifndef MACHIPC_MACH_NDR_H
#define MACHIPC_MACH_NDR_H

typedef struct {
    unsigned char mig_vers, if_vers, reserved1, mig_encoding, int_rep, char_rep, float_rep, reserved2;
} NDR_record_t;

#endif

/* The generator's test corpus (the Messages folder) as C declarations, and a main that prints "<Message> sizeof <size>" and
 * "<Message> <Field> <offset>" for each. Included by the two oracles after they declare the Mach ABI types: one from
 * the fact sheet (layout_oracle.c), one from <mach/message.h> (message_h_oracle.c). Messages declared Pack4 in C# are
 * declared under #pragma pack(push, 4) here; messages declared Natural without any pragma. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct { int32_t x; int64_t y; } point64_t; /* a plain C struct, naturally aligned */

#pragma pack(push, 4)
typedef struct { mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_port_descriptor_t TaskPort; } TaskPortCheckIn;
typedef struct { mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_port_descriptor_t ReceivePort, SendPort; } PortPairReply;
typedef struct {
    mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_port_descriptor_t Surface, Metadata;
    uint64_t SurfaceId; uint32_t Width, Height;
} SurfacePortsPack4;
typedef struct { mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_ool_descriptor_t Data; int32_t Flags; } OolData;
typedef struct { mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_ool_ports_descriptor_t Ports; } OolPortArray;
typedef struct { mach_msg_header_t Header; } Ping;
typedef struct { mach_msg_header_t Header; uint32_t Length; uint8_t Text[64]; } VarText;
typedef struct {
    mach_msg_header_t Header; uint8_t Kind; uint16_t Flags; int32_t State; point64_t Origin; uint8_t Tail; uint16_t Name[3];
} MixedPack4;
#pragma pack(pop)

typedef struct {
    mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_port_descriptor_t Surface, Metadata;
    uint64_t SurfaceId; uint32_t Width, Height;
} SurfacePortsNatural;
typedef struct { mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_ool_descriptor_t Data; uint64_t Cookie; } OolNatural;
typedef struct {
    mach_msg_header_t Header; uint8_t Kind; uint16_t Flags; int32_t State; point64_t Origin; uint8_t Tail; uint16_t Name[3];
} MixedNatural;

#define SIZE(T) printf("%s sizeof %zu\n", #T, sizeof(T))
#define OFF(T, F) printf("%s %s %zu\n", #T, #F, offsetof(T, F))

int main(void)
{
    SIZE(TaskPortCheckIn); OFF(TaskPortCheckIn, Header); OFF(TaskPortCheckIn, Body); OFF(TaskPortCheckIn, TaskPort);
    SIZE(PortPairReply); OFF(PortPairReply, Header); OFF(PortPairReply, Body); OFF(PortPairReply, ReceivePort); OFF(PortPairReply, SendPort);
    SIZE(SurfacePortsPack4); OFF(SurfacePortsPack4, Header); OFF(SurfacePortsPack4, Body); OFF(SurfacePortsPack4, Surface);
    OFF(SurfacePortsPack4, Metadata); OFF(SurfacePortsPack4, SurfaceId); OFF(SurfacePortsPack4, Width); OFF(SurfacePortsPack4, Height);
    SIZE(SurfacePortsNatural); OFF(SurfacePortsNatural, Header); OFF(SurfacePortsNatural, Body); OFF(SurfacePortsNatural, Surface);
    OFF(SurfacePortsNatural, Metadata); OFF(SurfacePortsNatural, SurfaceId); OFF(SurfacePortsNatural, Width); OFF(SurfacePortsNatural, Height);
    SIZE(OolData); OFF(OolData, Header); OFF(OolData, Body); OFF(OolData, Data); OFF(OolData, Flags);
    SIZE(OolPortArray); OFF(OolPortArray, Header); OFF(OolPortArray, Body); OFF(OolPortArray, Ports);
    SIZE(OolNatural); OFF(OolNatural, Header); OFF(OolNatural, Body); OFF(OolNatural, Data); OFF(OolNatural, Cookie);
    SIZE(Ping); OFF(Ping, Header);
    SIZE(VarText); OFF(VarText, Header); OFF(VarText, Length); OFF(VarText, Text);
    SIZE(MixedPack4); OFF(MixedPack4, Header); OFF(MixedPack4, Kind); OFF(MixedPack4, Flags); OFF(MixedPack4, State);
    OFF(MixedPack4, Origin); OFF(MixedPack4, Tail); OFF(MixedPack4, Name);
    SIZE(MixedNatural); OFF(MixedNatural, Header); OFF(MixedNatural, Kind); OFF(MixedNatural, Flags); OFF(MixedNatural, State);
    OFF(MixedNatural, Origin); OFF(MixedNatural, Tail); OFF(MixedNatural, Name);
    return 0;
}

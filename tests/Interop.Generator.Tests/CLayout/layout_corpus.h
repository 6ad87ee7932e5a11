/* The generator's test corpus (every message under Messages/, MessageCorpus) as C declarations, and a main that prints
 * "<Message> sizeof <size>" and "<Message> <Field> <offset>" for each. Included by the two oracles after they declare
 * the Mach ABI types (header, body, descriptors, audit trailer): one from the fact sheet (layout_oracle.c), one from
 * <mach/message.h> (message_h_oracle.c). Messages declared Pack4 in C# are declared under #pragma pack(push, 4) here;
 * messages declared Natural without any pragma. Names of the helper structs stay clear of the system's (natural_t is
 * Mach's integer type, guid_t a macOS one). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct { int32_t x; int64_t y; } point64_t; /* a plain C struct, naturally aligned */

/* Mirrors of the nested structs in NestedLayouts.cs and of ExternalStructs.cs in the other assembly (same layouts). */
#pragma pack(push, 1)
typedef struct { uint8_t A; int32_t B; } packed1_t;   /* [StructLayout(Pack = 1)] */
#pragma pack(pop)
#pragma pack(push, 2)
typedef struct { uint8_t A; int64_t B; } packed2_t;   /* [StructLayout(Pack = 2)] */
#pragma pack(pop)
typedef struct { int32_t A; uint8_t size_tail[12]; } sized16_t; /* [StructLayout(Size = 16)]: Size is a minimum */
/* [StructLayout(Size = 8)] below its 12 bytes of fields: the CLR keeps 12 bytes and does not pad them to its 8-byte
 * alignment. A C struct is always padded to its alignment, so only a pack(4) mirror has 12 bytes. */
#pragma pack(push, 4)
typedef struct { int64_t A; int32_t B; } short_size_t;
#pragma pack(pop)
typedef struct { int32_t A; int64_t B; } natural16_t;

/* The BCL structs with a documented layout (BclTypes.cs): Guid is GUID, Half is _Float16, Int128 is __int128,
 * NFloat is CGFloat (double on 64-bit). */
typedef struct { uint32_t Data1; uint16_t Data2, Data3; uint8_t Data4[8]; } guid16_t;

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
typedef struct { mach_msg_header_t Header; uint16_t Count; int16_t Samples[10]; } VarSamples;
typedef struct {
    mach_msg_header_t Header; uint8_t Kind; uint16_t Flags; int32_t State; point64_t Origin; uint8_t Tail; uint16_t Name[3];
} MixedPack4;
typedef struct { mach_msg_header_t Header; int64_t Value; } EchoRequest;
typedef struct { mach_msg_header_t Header; mach_msg_body_t Body; mach_msg_port_descriptor_t Port; int32_t Tag; } PortRequest;
typedef struct {
    mach_msg_header_t Header; packed1_t LocalP1; uint8_t X1; packed2_t LocalP2; uint8_t X2; sized16_t LocalS16; uint8_t X3;
    short_size_t LocalShort; uint8_t X4; packed1_t ExtP1; uint8_t X5; packed2_t ExtP2; uint8_t X6; sized16_t ExtS16; uint8_t X7;
    short_size_t ExtShort; uint8_t X8; natural16_t ExtNatural; uint8_t X9;
} NestedPack4;
typedef struct {
    mach_msg_header_t Header; uint8_t T1; guid16_t Id; uint8_t T2; _Float16 Ratio; uint8_t T3; __int128 Big; uint8_t T4;
    unsigned __int128 Unsigned; uint8_t T5; double Scale; int32_t X;
} BclPack4;
#pragma pack(pop)

typedef struct {
    mach_msg_header_t Header; packed1_t LocalP1; uint8_t X1; packed2_t LocalP2; uint8_t X2; sized16_t LocalS16; uint8_t X3;
    packed1_t ExtP1; uint8_t X5; packed2_t ExtP2; uint8_t X6; sized16_t ExtS16; uint8_t X7; natural16_t ExtNatural; uint8_t X9;
} NestedNatural;
typedef struct {
    mach_msg_header_t Header; uint8_t T1; guid16_t Id; uint8_t T2; _Float16 Ratio; uint8_t T3; __int128 Big; uint8_t T4;
    unsigned __int128 Unsigned; uint8_t T5; double Scale; int32_t X;
} BclNatural;
typedef struct { mach_msg_header_t Header; uint64_t Cookie; uint32_t Width; } NaturalTail;
/* A C receiver that declares the audit trailer as its last member: the trailer lands at 36, but the kernel writes
 * it at round_msg(msgh_size) = round_msg(sizeof(NaturalTail)) = 40. */
typedef struct { mach_msg_header_t Header; uint64_t Cookie; uint32_t Width; mach_msg_audit_trailer_t Trailer; } NaturalTailReceiver;

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
    SIZE(VarSamples); OFF(VarSamples, Header); OFF(VarSamples, Count); OFF(VarSamples, Samples);
    SIZE(MixedPack4); OFF(MixedPack4, Header); OFF(MixedPack4, Kind); OFF(MixedPack4, Flags); OFF(MixedPack4, State);
    OFF(MixedPack4, Origin); OFF(MixedPack4, Tail); OFF(MixedPack4, Name);
    SIZE(MixedNatural); OFF(MixedNatural, Header); OFF(MixedNatural, Kind); OFF(MixedNatural, Flags); OFF(MixedNatural, State);
    OFF(MixedNatural, Origin); OFF(MixedNatural, Tail); OFF(MixedNatural, Name);
    SIZE(EchoRequest); OFF(EchoRequest, Header); OFF(EchoRequest, Value);
    SIZE(PortRequest); OFF(PortRequest, Header); OFF(PortRequest, Body); OFF(PortRequest, Port); OFF(PortRequest, Tag);
    SIZE(NestedPack4); OFF(NestedPack4, Header); OFF(NestedPack4, LocalP1); OFF(NestedPack4, X1); OFF(NestedPack4, LocalP2);
    OFF(NestedPack4, X2); OFF(NestedPack4, LocalS16); OFF(NestedPack4, X3); OFF(NestedPack4, LocalShort); OFF(NestedPack4, X4);
    OFF(NestedPack4, ExtP1); OFF(NestedPack4, X5); OFF(NestedPack4, ExtP2); OFF(NestedPack4, X6); OFF(NestedPack4, ExtS16);
    OFF(NestedPack4, X7); OFF(NestedPack4, ExtShort); OFF(NestedPack4, X8); OFF(NestedPack4, ExtNatural); OFF(NestedPack4, X9);
    SIZE(NestedNatural); OFF(NestedNatural, Header); OFF(NestedNatural, LocalP1); OFF(NestedNatural, X1); OFF(NestedNatural, LocalP2);
    OFF(NestedNatural, X2); OFF(NestedNatural, LocalS16); OFF(NestedNatural, X3); OFF(NestedNatural, ExtP1); OFF(NestedNatural, X5);
    OFF(NestedNatural, ExtP2); OFF(NestedNatural, X6); OFF(NestedNatural, ExtS16); OFF(NestedNatural, X7);
    OFF(NestedNatural, ExtNatural); OFF(NestedNatural, X9);
    SIZE(BclPack4); OFF(BclPack4, Header); OFF(BclPack4, T1); OFF(BclPack4, Id); OFF(BclPack4, T2); OFF(BclPack4, Ratio);
    OFF(BclPack4, T3); OFF(BclPack4, Big); OFF(BclPack4, T4); OFF(BclPack4, Unsigned); OFF(BclPack4, T5); OFF(BclPack4, Scale); OFF(BclPack4, X);
    SIZE(BclNatural); OFF(BclNatural, Header); OFF(BclNatural, T1); OFF(BclNatural, Id); OFF(BclNatural, T2); OFF(BclNatural, Ratio);
    OFF(BclNatural, T3); OFF(BclNatural, Big); OFF(BclNatural, T4); OFF(BclNatural, Unsigned); OFF(BclNatural, T5); OFF(BclNatural, Scale);
    OFF(BclNatural, X);
    SIZE(NaturalTail); OFF(NaturalTail, Header); OFF(NaturalTail, Cookie); OFF(NaturalTail, Width);
    /* Not a message: how a C receiver that appends the trailer to the struct would see NaturalTail. */
    printf("NaturalTail.CReceiver Trailer %zu\n", offsetof(NaturalTailReceiver, Trailer));
    return 0;
}

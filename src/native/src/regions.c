/* Out-of-line memory the kernel handed this task (received OOL regions, mach_port_names' arrays). The host
 * keeps the real region; this process gets a page-aligned copy (as vm_map_copyout gives a receiver fresh pages)
 * and remembers which host region it stands for, so that mach_vm_deallocate frees both. */
#define _GNU_SOURCE
#include "host.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <mach/mach_init.h>
#include <mach/mach_vm.h>

struct region {
    uint64_t local, host, size;
    size_t mapped;
    struct region *next;
};

#define BUCKETS 256
static struct region *g_table[BUCKETS];
static pthread_mutex_t g_regions_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t bucket(uint64_t local)
{
    return (size_t)((local >> 12) * 0x9E3779B97F4A7C15ull >> 56) % BUCKETS;
}

void *region_adopt(uint64_t host, const uint8_t *bytes, size_t len)
{
    if (len == 0) {
        return NULL;
    }
    size_t page = 4096;
    size_t mapped = (len + page - 1) & ~(page - 1);
    void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct region *r = malloc(sizeof *r);
    if (p == MAP_FAILED || r == NULL) {
        if (p != MAP_FAILED) {
            munmap(p, mapped);
        }
        free(r);
        return NULL;
    }
    memcpy(p, bytes, len);
    r->local = (uint64_t)(uintptr_t)p;
    r->host = host;
    r->size = len;
    r->mapped = mapped;
    pthread_mutex_lock(&g_regions_lock);
    size_t b = bucket(r->local);
    r->next = g_table[b];
    g_table[b] = r;
    pthread_mutex_unlock(&g_regions_lock);
    return p;
}

int region_lookup(uint64_t local, uint64_t *host, uint64_t *size)
{
    int found = 0;
    pthread_mutex_lock(&g_regions_lock);
    for (struct region *r = g_table[bucket(local)]; r != NULL; r = r->next) {
        if (r->local == local) {
            *host = r->host;
            *size = r->size;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&g_regions_lock);
    return found;
}

int region_release(uint64_t local, uint64_t *host, uint64_t *size)
{
    struct region *found = NULL;
    pthread_mutex_lock(&g_regions_lock);
    for (struct region **at = &g_table[bucket(local)]; *at != NULL; at = &(*at)->next) {
        if ((*at)->local == local) {
            found = *at;
            *at = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_regions_lock);
    if (found == NULL) {
        return 0;
    }
    *host = found->host;
    *size = found->size;
    munmap((void *)(uintptr_t)found->local, found->mapped);
    free(found);
    return 1;
}

/* A region this task received is freed here and in the host; any other address goes to the host unchanged,
 * which frees only regions it handed out (an ordinary address is a no-op there, never dereferenced). Partial
 * deallocation of a received region is not modelled: the whole region goes. */
MACHIPC_EXPORT kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t address, mach_vm_size_t size)
{
    int self = target == mach_task_self_;
    if (self) {
        uint64_t host, host_size;
        if (region_release(address, &host, &host_size)) {
            address = host;
            size = host_size;
        }
    }
    struct call c;
    struct reader r;
    if (!call_begin(&c, OP_VM_DEALLOCATE)) {
        return self ? KERN_SUCCESS : KERN_INVALID_TASK; /* the local copy is freed either way */
    }
    put_u32(&c, target);
    put_u64(&c, address);
    put_u64(&c, size);
    if (!call_transact(&c, &r, -1)) {
        return self ? KERN_SUCCESS : KERN_INVALID_TASK;
    }
    kern_return_t kr = (kern_return_t)rd_u32(&r);
    if (!rd_ok(&r)) {
        call_protocol_error(&c, "vm_deallocate reply");
        return self ? KERN_SUCCESS : KERN_INVALID_TASK;
    }
    call_end(&c);
    return kr;
}

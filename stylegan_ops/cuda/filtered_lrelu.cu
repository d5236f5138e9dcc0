// Fused filtered_lrelu: bias, up-FIR, leaky ReLU x gain, clamp, down-FIR in one pass per output tile.
//
// One thread block computes a TILE x TILE output tile of one image plane. It stages the biased input
// tile, the upsampled tile (polyphase: only taps that meet an input sample) and the activated tile in
// shared memory, so the full-rate signal never leaves the chip. Filters arrive as sums of outer
// products (column taps x row taps, rank 1 for the separable filters of StyleGAN3-T), applied one
// axis at a time. Deliberately free of torch headers (they triple the build time).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "filtered_lrelu.h"

namespace {

constexpr int kThreads = 256;  // threads per block on the GPU

struct TileGeometry {
    int tile;       // outputs per tile side
    int u_len;      // upsampled samples per tile side: (tile - 1) * down + fd_taps
    int x_len;      // input samples per tile side
};

__host__ __device__ inline float load_x(const FilteredLreluParams& p, int n, int c, int y, int x) {
    const int64_t i = n * p.x_stride[0] + c * p.x_stride[1] + y * p.x_stride[2] + x * p.x_stride[3];
    return p.half ? __half2float(static_cast<const __half*>(p.x)[i]) : static_cast<const float*>(p.x)[i];
}

__host__ __device__ inline void store_out(const FilteredLreluParams& p, int n, int c, int y, int x, float v) {
    const int64_t i = n * p.out_stride[0] + c * p.out_stride[1] + y * p.out_stride[2] + x * p.out_stride[3];
    if (p.half) {
        static_cast<__half*>(p.out)[i] = __float2half_rn(v);
    } else {
        static_cast<float*>(p.out)[i] = v;
    }
}

// First input sample at or after upsampled position `pos` (ceil(pos / up) for any sign).
__host__ __device__ inline int ceil_div(int pos, int up) { return pos >= 0 ? (pos + up - 1) / up : -((-pos) / up); }

// Tap k of a filter of `taps` taps as a true convolution (flipped) unless flip (correlation).
__host__ __device__ inline float tap(const float* f, int taps, int k, int flip) { return f[flip ? k : taps - 1 - k]; }

__host__ __device__ inline void block_sync() {
#ifdef __CUDA_ARCH__
    __syncthreads();
#endif
}

// The work of one thread block: thread `thread` of `threads` (any count: the host emulation runs one
// thread per block, which is how the CPU tests check this very code).
__host__ __device__ void filtered_lrelu_block(const FilteredLreluParams& p, const TileGeometry& gy,
                                              const TileGeometry& gx, int tiles_x, int tile_index, int plane,
                                              int thread, int threads, float* smem) {
    const int n = plane / p.c, c = plane % p.c;
    const int oy0 = (tile_index / tiles_x) * gy.tile, ox0 = (tile_index % tiles_x) * gx.tile;
    const int iy0 = ceil_div(oy0 * p.down - p.pad_y, p.up), ix0 = ceil_div(ox0 * p.down - p.pad_x, p.up);
    const int cy = iy0 * p.up - (oy0 * p.down - p.pad_y), cx = ix0 * p.up - (ox0 * p.down - p.pad_x);

    float* s_x = smem;                                 // [x_len_y][x_len_x]   biased input
    float* s_t = s_x + gy.x_len * gx.x_len;            // [x_len_y][u_len_x]   after the up x pass
    float* s_u = s_t + gy.x_len * gx.u_len;            // [u_len_y][u_len_x]   upsampled, then activated
    float* s_d = s_u + gy.u_len * gx.u_len;            // [u_len_y][tile_x]    after the down x pass
    float* s_o = s_d + gy.u_len * gx.tile;             // [tile_y][tile_x]     outputs
    const float b = p.bias ? p.bias[c] : 0.f;

    for (int i = thread; i < gy.x_len * gx.x_len; i += threads) {
        const int y = iy0 + i / gx.x_len, x = ix0 + i % gx.x_len;
        const bool inside = y >= 0 && y < p.h && x >= 0 && x < p.w;
        s_x[i] = inside ? load_x(p, n, c, y, x) + b : 0.f;
    }
    for (int i = thread; i < gy.u_len * gx.u_len; i += threads) s_u[i] = 0.f;
    for (int i = thread; i < gy.tile * gx.tile; i += threads) s_o[i] = 0.f;
    block_sync();

    // Upsample: U = sum_r Uy_r X Ux_r^T, polyphase along each axis (only taps that meet an input).
    for (int r = 0; r < p.ranks_up; ++r) {
        const float* fx = p.up_rows + r * p.fu_w;
        const float* fy = p.up_cols + r * p.fu_h;
        for (int i = thread; i < gy.x_len * gx.u_len; i += threads) {
            const int row = i / gx.u_len, u = i % gx.u_len;
            const int first = ceil_div(u - cx, p.up) > 0 ? ceil_div(u - cx, p.up) : 0;
            float acc = 0.f;
            for (int xi = first, k = xi * p.up + cx - u; k < p.fu_w && xi < gx.x_len; ++xi, k += p.up)
                acc += s_x[row * gx.x_len + xi] * tap(fx, p.fu_w, k, p.flip);
            s_t[i] = acc;
        }
        block_sync();
        for (int i = thread; i < gy.u_len * gx.u_len; i += threads) {
            const int u = i / gx.u_len, col = i % gx.u_len;
            const int first = ceil_div(u - cy, p.up) > 0 ? ceil_div(u - cy, p.up) : 0;
            float acc = 0.f;
            for (int yi = first, k = yi * p.up + cy - u; k < p.fu_h && yi < gy.x_len; ++yi, k += p.up)
                acc += s_t[yi * gx.u_len + col] * tap(fy, p.fu_h, k, p.flip);
            s_u[i] += acc;
        }
        block_sync();
    }

    // Leaky ReLU, gain, clamp, in place.
    for (int i = thread; i < gy.u_len * gx.u_len; i += threads) {
        float v = s_u[i] * p.up_gain;
        v = (v >= 0.f ? v : v * p.slope) * p.gain;
        if (p.has_clamp) v = fminf(fmaxf(v, -p.clamp), p.clamp);
        s_u[i] = v;
    }
    block_sync();

    // Downsample: out = sum_s Dy_s A Dx_s^T, strided: only the kept samples are computed.
    for (int s = 0; s < p.ranks_down; ++s) {
        const float* fx = p.down_rows + s * p.fd_w;
        const float* fy = p.down_cols + s * p.fd_h;
        for (int i = thread; i < gy.u_len * gx.tile; i += threads) {
            const int u = i / gx.tile, o = i % gx.tile;
            float v = 0.f;
            for (int k = 0; k < p.fd_w; ++k) v += s_u[u * gx.u_len + o * p.down + k] * tap(fx, p.fd_w, k, p.flip);
            s_d[i] = v;
        }
        block_sync();
        for (int i = thread; i < gy.tile * gx.tile; i += threads) {
            const int oy = i / gx.tile, ox = i % gx.tile;
            float v = 0.f;
            for (int k = 0; k < p.fd_h; ++k) v += s_d[(oy * p.down + k) * gx.tile + ox] * tap(fy, p.fd_h, k, p.flip);
            s_o[i] += v;
        }
        block_sync();
    }
    for (int i = thread; i < gy.tile * gx.tile; i += threads) {
        const int oy = oy0 + i / gx.tile, ox = ox0 + i % gx.tile;
        if (oy < p.out_h && ox < p.out_w) store_out(p, n, c, oy, ox, s_o[i]);
    }
}

__global__ void filtered_lrelu_kernel(FilteredLreluParams p, TileGeometry gy, TileGeometry gx, int tiles_x) {
    extern __shared__ float smem[];
    filtered_lrelu_block(p, gy, gx, tiles_x, blockIdx.x, blockIdx.y, threadIdx.x, blockDim.x, smem);
}

TileGeometry geometry(int tile, int up, int down, int fu, int fd) {
    TileGeometry g;
    g.tile = tile;
    g.u_len = (tile - 1) * down + fd;
    g.x_len = (g.u_len + fu - 2) / up + 2;  // inputs reaching the tile's upsampled samples, any phase
    return g;
}

size_t shared_bytes(const TileGeometry& gy, const TileGeometry& gx) {
    return sizeof(float) * (gy.x_len * gx.x_len + gy.x_len * gx.u_len + gy.u_len * gx.u_len + gy.u_len * gx.tile +
                            gy.tile * gx.tile);
}

// The largest output tile (32, 16, 8 or 4 per side) whose staging fits in 48 KiB of shared memory.
bool choose_tiles(const FilteredLreluParams& p, TileGeometry* gy, TileGeometry* gx) {
    constexpr size_t kSharedLimit = 48 * 1024;  // no opt-in needed below this
    for (int tile = 32; tile >= 4; tile /= 2) {
        *gy = geometry(tile, p.up, p.down, p.fu_h, p.fd_h);
        *gx = geometry(tile, p.up, p.down, p.fu_w, p.fd_w);
        if (shared_bytes(*gy, *gx) <= kSharedLimit) return true;
    }
    return false;
}

}  // namespace

int filtered_lrelu_launch(const FilteredLreluParams& p, void* stream) {
    TileGeometry gy{}, gx{};
    if (!choose_tiles(p, &gy, &gx)) return static_cast<int>(cudaErrorInvalidConfiguration);
    const int tiles_x = (p.out_w + gx.tile - 1) / gx.tile, tiles_y = (p.out_h + gy.tile - 1) / gy.tile;
    const dim3 grid(tiles_x * tiles_y, p.n * p.c);
    filtered_lrelu_kernel<<<grid, kThreads, shared_bytes(gy, gx), static_cast<cudaStream_t>(stream)>>>(p, gy, gx,
                                                                                                       tiles_x);
    return static_cast<int>(cudaGetLastError());
}

#ifdef NETBLEND_HOST_EMULATION
#include <vector>

// The same blocks run one after another on the CPU, one thread each, on host memory (CPU tests).
extern "C" int filtered_lrelu_host(const FilteredLreluParams* p) {
    TileGeometry gy{}, gx{};
    if (!choose_tiles(*p, &gy, &gx)) return 1;
    const int tiles_x = (p->out_w + gx.tile - 1) / gx.tile, tiles_y = (p->out_h + gy.tile - 1) / gy.tile;
    std::vector<float> smem(shared_bytes(gy, gx) / sizeof(float));
    for (int plane = 0; plane < p->n * p->c; ++plane)
        for (int tile = 0; tile < tiles_x * tiles_y; ++tile)
            filtered_lrelu_block(*p, gy, gx, tiles_x, tile, plane, 0, 1, smem.data());
    return 0;
}
#endif

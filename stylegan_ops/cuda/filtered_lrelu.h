// Parameters of one fused filtered_lrelu launch (plain data: shared by the .cu and the torch binding).
#pragma once
#include <cstdint>

struct FilteredLreluParams {
    const void* x;          // [N, C, H, W] input, element strides below
    const float* bias;      // [C] or nullptr
    const float* up_cols;   // [ranks_up, fu_h]: fu = sum_r outer(up_cols[r], up_rows[r])
    const float* up_rows;   // [ranks_up, fu_w]
    const float* down_cols; // [ranks_down, fd_h]
    const float* down_rows; // [ranks_down, fd_w]
    void* out;              // [N, C, out_h, out_w]
    int64_t x_stride[4];
    int64_t out_stride[4];
    int n, c, h, w, out_h, out_w;
    int ranks_up, ranks_down, fu_h, fu_w, fd_h, fd_w;
    int up, down, pad_x, pad_y;  // pad_* = padding before, on the upsampled grid
    float up_gain, gain, slope, clamp;
    int has_clamp, flip, half;   // half: x and out are fp16 (else fp32)
};

// Launches the kernel on `stream` (a cudaStream_t); returns a CUDA error code (0 = success).
int filtered_lrelu_launch(const FilteredLreluParams& p, void* stream);

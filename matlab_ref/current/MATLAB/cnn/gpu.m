function x = gpu(x)
% x = gpu(x): move x to the GPU when the global gpu_use is true.
% On the CPU (gpu_use false or unset, always the case under Octave) it is
% the identity, so every caller can wrap its arrays unconditionally.
global gpu_use
if ~isempty(gpu_use) && gpu_use
    x = gpuArray(x);
end
end

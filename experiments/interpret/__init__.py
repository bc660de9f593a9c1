"""Problems 3-5: feature maps, filters (Gabor test), CAM / HiResCAM, guided backprop, and the
measurements (randomisation sanity check, deletion/insertion) that back their interpretation."""

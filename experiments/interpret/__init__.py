"""Problems 3-5: feature maps, filters (Gabor test), CAM / Grad-CAM, guided backprop, and the
measurements (randomisation sanity check, deletion/insertion) that back their interpretation."""

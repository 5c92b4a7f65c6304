package main

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// A board keeps the image it loaded and says which (IMAGE_CRC, IMAGE_SIZE), but not what
// its ports and populations are called. lrctl load keeps a copy of every image it loads in
// a cache, by CRC and size, so that lrctl run without a network can name what is loaded.

// imageCacheEnv overrides the image cache's folder.
const imageCacheEnv = "LRCHIP_IMAGE_CACHE"

func imageCacheDir() string {
	if d := os.Getenv(imageCacheEnv); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "lrchip", "images")
	}
	return filepath.Join(driver.RunDir(), "images")
}

func cachedImagePath(crc, size uint32) string {
	return filepath.Join(imageCacheDir(), fmt.Sprintf("%08x-%d.lrni", crc, size))
}

// cacheImage keeps a copy of a loaded image (written whole, then renamed into place).
func cacheImage(b []byte) error {
	p := cachedImagePath(crc32.ChecksumIEEE(b), uint32(len(b)))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".image-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// registers is what a board device has beyond device.Device for this: its registers.
type registers interface {
	ReadRegister(off uint32) (uint32, error)
	Status() (driver.Status, error)
}

// loadedImage returns the image loaded on dev, from the cache, and the step the device is at.
func loadedImage(dev device.Device) (*image.Image, uint64, error) {
	r, ok := dev.(registers)
	if !ok {
		return nil, 0, fmt.Errorf("run: %s keeps nothing loaded between commands (the emulator in this process); give NETWORK, or use an emulator process (lrctl emu serve) or a board", dev)
	}
	st, err := r.Status()
	if err != nil {
		return nil, 0, err
	}
	crc, err1 := r.ReadRegister(regmap.RegImageCRC)
	size, err2 := r.ReadRegister(regmap.RegImageSize)
	if err := errors.Join(err1, err2); err != nil {
		return nil, 0, err
	}
	if !st.Loaded || size == 0 {
		return nil, 0, fmt.Errorf("run: nothing is loaded on %s: give NETWORK, or load an image first (lrctl load --device URI IMAGE)", dev)
	}
	p := cachedImagePath(crc, size)
	b, err := image.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("run: %s holds an image (CRC-32 %08x, %d bytes) that this host did not load, so its names are unknown here: give NETWORK (the image or its description)", dev, crc, size)
	}
	if err != nil {
		return nil, 0, err
	}
	if crc32.ChecksumIEEE(b) != crc || len(b) != int(size) {
		return nil, 0, fmt.Errorf("run: the cached copy %s does not match what %s holds: give NETWORK", p, dev)
	}
	img, err := image.Decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", p, err)
	}
	return img, st.Timestep, nil
}

"""The Linux peer's image: Debian's kernel and busybox, fetched with apt and cached.

The real image is built here if the cache lacks it (a download of about 28 MB, once).
Tests that rebuild use a cache of their own (``DOS64LAB_PEER_CACHE``) that borrows the
downloaded packages, so only the failure tests touch the network -- and fail fast.
"""

import gzip
import lzma
import re
import time

import pytest

from dos64lab.peer import ImageError, cache_dir, image, peer_image


def parse_newc(data: bytes) -> dict:
    """{name: (mode, rdev, data)} from a cpio "newc" archive, checking its alignment."""
    files, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701" and pos % 4 == 0
        f = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        name = data[pos + 110: pos + 110 + namesize - 1].decode()
        assert data[pos + 110 + namesize - 1] == 0
        pos = (pos + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return files
        files[name] = (mode, (rmaj, rmin), data[pos:pos + size])
        pos = (pos + size + 3) & ~3


@pytest.fixture(scope="module")
def img():
    return peer_image(progress=print)


def test_cpio_newc_round_trip():
    archive = image.Cpio()
    archive.add("dir", 0o040755)
    archive.add("dir/odd", 0o100644, b"12345")               # sizes that need padding
    archive.add("dev/console", 0o020600, rdev=(5, 1))
    files = parse_newc(archive.finish())
    assert files == {"dir": (0o040755, (0, 0), b""), "dir/odd": (0o100644, (0, 0), b"12345"),
                     "dev/console": (0o020600, (5, 1), b"")}


def test_the_initramfs_holds_init_busybox_the_modules_and_a_console(img):
    files = parse_newc(gzip.decompress(img.initrd.read_bytes()))
    assert files["init"][2].decode() == image.INIT and files["init"][0] == 0o100755
    assert files["bin/busybox"][2][:4] == b"\x7fELF"
    assert files["dev/console"][:2] == (0o020600, (5, 1))
    assert files["etc/modules"][2].decode().split() == list(img.modules)
    for name in img.modules:
        assert files[f"lib/modules/{name}.ko"][2][:4] == b"\x7fELF"
    assert b"Linux peer" in files["www/index.html"][2]
    assert img.kernel.read_bytes()[0x202:0x206] == b"HdrS"    # a bzImage (x86 boot protocol)


def test_modules_load_in_dependency_order(img):
    # QEMU-FACTS: virtio_ring, virtio, virtio_pci_modern_dev, virtio_pci_legacy_dev,
    # virtio_pci, failover, net_failover, virtio_net -- each after what it depends on
    order = list(img.modules)
    assert set(order) == {"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
                          "virtio_pci", "failover", "net_failover", "virtio_net"}
    before = lambda a, b: order.index(a) < order.index(b)
    assert before("virtio_ring", "virtio") and before("virtio", "virtio_pci")
    assert before("virtio_pci_modern_dev", "virtio_pci") and before("virtio_pci_legacy_dev", "virtio_pci")
    assert before("failover", "net_failover") and before("net_failover", "virtio_net")
    assert before("virtio", "virtio_net")


def test_module_dependencies_come_from_each_modules_modinfo(tmp_path):
    def module(path, depends, compress=False):
        data = b"\x7fELF...\0license=GPL\0depends=" + depends.encode() + b"\0name=x\0"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(lzma.compress(data) if compress else data)
    module(tmp_path / "a/top.ko", "mid,other")
    module(tmp_path / "b/mid.ko.xz", "base", compress=True)      # compressed: unpacked for insmod
    module(tmp_path / "b/other.ko", "")
    module(tmp_path / "c/base.ko", "")
    order = image._modules_in_load_order(tmp_path, ["top"])
    assert [name for name, _ in order] == ["base", "mid", "other", "top"]
    assert all(data.startswith(b"\x7fELF") for _, data in order)
    module(tmp_path / "d/needy.ko", "absent")
    with pytest.raises(ImageError, match="module absent is not in"):
        image._modules_in_load_order(tmp_path, ["needy"])


@pytest.fixture
def own_cache(img, tmp_path, monkeypatch):
    """A cache of this test's own that already has the downloaded packages."""
    (tmp_path / "debs").mkdir()
    for deb in (cache_dir() / "debs").glob("*.deb"):
        (tmp_path / "debs" / deb.name).symlink_to(deb)
    monkeypatch.setenv("DOS64LAB_PEER_CACHE", str(tmp_path))
    return tmp_path


def test_an_image_is_built_once_and_rebuilt_when_init_changes(own_cache, monkeypatch):
    said = []
    t0 = time.monotonic()
    first = peer_image(said.append)
    build = time.monotonic() - t0
    assert first.initrd.parent.parent == own_cache
    assert any("writing the initramfs" in s for s in said) and not any("download" in s for s in said)
    said.clear()
    t0 = time.monotonic()
    assert peer_image(said.append) == first and said == []     # cached: nothing said, nothing done
    assert time.monotonic() - t0 < 0.5, "the cached image took long to find"
    monkeypatch.setattr(image, "INIT", image.INIT + "# changed\n")
    second = peer_image(said.append)
    assert second.initrd != first.initrd and second.initrd.is_file()
    assert first.initrd.is_file()                   # the same kernel's other recipe stays
    print(f"image built in {build:.1f} s")


def test_an_unknown_package_is_a_clear_error(own_cache, monkeypatch):
    monkeypatch.setattr(image, "BUSYBOX", "no-such-package-dos64lab")
    monkeypatch.setattr(image.os, "geteuid", lambda: 1000)          # not root: told what to do
    with pytest.raises(ImageError, match=r"run `apt-get update` \(as root\) first"):
        peer_image()


def test_root_updates_apts_lists_once_when_they_lack_the_packages(own_cache, monkeypatch):
    answers = [ImageError("no such package"), ("linux-image-9-cloud-amd64", {"x": "1"})]
    ran, said = [], []
    monkeypatch.setattr(image.os, "geteuid", lambda: 0)
    monkeypatch.setattr(image, "_run", lambda args, *a, **k: ran.append(args) or "")

    def ask():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    monkeypatch.setattr(image, "_ask_apt", ask)
    assert image.current_packages(said.append) == ("linux-image-9-cloud-amd64", {"x": "1"})
    assert ran == [["apt-get", "update", "-qq"]] and "apt-get update" in said[0]


def test_no_way_to_the_mirror_is_a_clear_error_within_a_minute(tmp_path, monkeypatch):
    monkeypatch.setenv("DOS64LAB_PEER_CACHE", str(tmp_path))     # nothing downloaded yet
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")        # a closed port: no mirror
    t0 = time.monotonic()
    with pytest.raises(ImageError) as info:
        peer_image()
    assert time.monotonic() - t0 < 60
    assert "Debian mirror reachable?" in str(info.value)
    assert re.search(r"127\.0\.0\.1.*(refused|connect)", str(info.value), re.I | re.S)
    assert not list(tmp_path.glob("*-cloud-amd64_*")), "a half-built image was left"


def test_the_cache_folder_can_be_chosen(monkeypatch, tmp_path):
    monkeypatch.setenv("DOS64LAB_PEER_CACHE", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("DOS64LAB_PEER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "dos64lab" / "peer"

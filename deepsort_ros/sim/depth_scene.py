"""
Depth images of a scene whose geometry is known: a ground plane and people as upright boards.

What an RGB-D camera registered to the colour image would see from a
:class:`~deepsort_ros.sim.ground_camera.GroundCamera`: depth along the optical axis, m, of the
ground plane z = 0 and of each person as a vertical rectangle facing the camera, standing on its
ground position. Tests check depth-based world positions against it.
"""

from typing import Tuple

from deepsort_ros.sim.ground_camera import GroundCamera
import numpy as np
import numpy.typing as npt


def render_depth(camera: GroundCamera, people_xy: npt.ArrayLike,
                 person_size_m: Tuple[float, float] = (0.5, 1.75)) -> npt.NDArray[np.float32]:
    """
    Return the depth image (height, width) of the ground plane and the people, m.

    Parameters
    ----------
    camera : GroundCamera
        The camera (ideal pinhole).
    people_xy : array_like, shape (N, 2)
        Ground positions of the people, m.
    person_size_m : tuple of 2 float
        Width and height of each person's board, m.

    Returns
    -------
    ndarray, shape (camera.height, camera.width), float32
        Depth along the optical axis, m; NaN where the ray meets nothing (above the horizon).

    """
    k_inv = np.linalg.inv(camera.intrinsics)
    u, v = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    pixels = np.stack([u, v, np.ones_like(u)], axis=-1)
    # A ray's world direction per unit of optical depth: depth t reaches centre + t * ray.
    ray = pixels @ k_inv.T @ camera.rotation.T
    centre = camera.centre
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.where(ray[..., 2] < 0.0, -centre[2] / ray[..., 2], np.inf)
    width_m, height_m = person_size_m
    for xy in np.asarray(people_xy, dtype=np.float64).reshape(-1, 2):
        foot = np.array([xy[0], xy[1], 0.0])
        normal = np.array([*(centre[:2] - xy), 0.0])
        normal /= np.linalg.norm(normal)
        side = np.array([-normal[1], normal[0], 0.0])
        with np.errstate(divide='ignore', invalid='ignore'):
            t = ((foot - centre) @ normal) / (ray @ normal)
        hit = centre + t[..., None] * ray
        on_board = ((t > 0.0) & (np.abs((hit - foot) @ side) <= width_m / 2.0)
                    & (hit[..., 2] >= 0.0) & (hit[..., 2] <= height_m))
        depth = np.where(on_board & (t < depth), t, depth)
    return np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)

"""TextDiFuse Desktop: diffusion-based multi-modal image fusion (MRI/PET/SPECT/CT, infrared/visible).

Importing the package is cheap: no torch, no Qt.  Sub-packages:

* ``imaging``  numpy image/volume type, geometry, resampling, alignment, degradations
* ``io``       readers and writers (DICOM, NIfTI, raster, thermal video)
* ``metrics``  fusion quality metrics
* ``model``    the compact Text-DiFuse network, sampler and training (torch)
* ``fusion``   fusion engine and classical rules
* ``session``  Qt-free application state and regions
* ``cli``      the ``textdifuse`` command
* ``gui``      the PySide6 desktop application (the only package that imports Qt)
"""

__version__ = "0.1.0"

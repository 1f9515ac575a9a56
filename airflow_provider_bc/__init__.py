"""Apache Airflow provider for Microsoft Dynamics 365 Business Central."""

__version__ = "0.1.0"

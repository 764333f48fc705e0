"""Rock RMS REST v1 client."""

from pcosync.clients.rock.client import RockClient
from pcosync.clients.rock.models import Guids, RockGroup, RockGroupMember, RockPerson

__all__ = ["Guids", "RockClient", "RockGroup", "RockGroupMember", "RockPerson"]
